"""Sign-in for the HTTP server: the embedded OAuth 2.1 authorization server where each staff member
signs in with their own Nexudus account (`provider`, `pages`, `guard`, `nexudus_login`, `vault`), and the
verifier for an organisation's own identity provider (`external`)."""
