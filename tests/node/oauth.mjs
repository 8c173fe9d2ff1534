// The official MCP TypeScript SDK's OAuth client against our sign-in mode (NEXUDUS_MCP_AUTH=oauth).
// Usage: node oauth.mjs <server /mcp URL> <email> <password>
// Discovery, dynamic registration, PKCE and the token exchange are the SDK's own (its auth() helper);
// the "browser" is a test redirect handler that fills in the sign-in page with fetch, as a person
// would, and hands the code back. Prints one JSON object; the Python test asserts on it.
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [serverUrl, email, password] = process.argv.slice(2);
const REDIRECT = "http://127.0.0.1:43112/callback";

class TestProvider {
  constructor() { this._client = undefined; this._tokens = undefined; this._verifier = ""; this.code = undefined; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return { client_name: "TypeScript SDK test client", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"],
             response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  async redirectToAuthorization(url) {
    // The browser: /authorize -> the sign-in page -> POST the form -> redirect to the callback with a code.
    const toPage = await fetch(url, { redirect: "manual" });
    const pageUrl = new URL(toPage.headers.get("location"), url);
    const page = await (await fetch(pageUrl)).text();
    const hidden = Object.fromEntries([...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const form = new URLSearchParams({ ...hidden, email, password });
    const answer = await fetch(new URL("signin", pageUrl), { method: "POST", body: form, redirect: "manual",
                                                             headers: { Origin: pageUrl.origin } });
    const back = new URL(answer.headers.get("location"));
    this.code = back.searchParams.get("code");
  }
}

const out = {};
try {
  const provider = new TestProvider();
  out.first = await auth(provider, { serverUrl });              // "REDIRECT": the browser signed in
  out.second = await auth(provider, { serverUrl, authorizationCode: provider.code });  // "AUTHORIZED"
  const client = new Client({ name: "ts-sdk-oauth-client", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
  const tools = await client.listTools();
  out.tools = tools.tools.map((t) => t.name);
  const read = await client.callTool({ name: "get_coworker_identity_check", arguments: { Id: 87654309 } });
  const record = read.structuredContent.Record;
  const update = await client.callTool({ name: "update_coworker_identity_check", arguments: {
    Id: record.Id, BusinessId: record.BusinessId, CoworkerId: record.CoworkerId, Name: record.Name,
    IdentityCheckProvider: record.IdentityCheckProvider, IdentityDocumentType: record.IdentityDocumentType,
    AddressDocumentType: record.AddressDocumentType, Description: "Updated through the TypeScript SDK" } });
  out.update = { isError: update.isError ?? false, changes: update.structuredContent.Changes };
  out.refreshed = Boolean(provider.tokens()?.refresh_token);
  await client.close();
} catch (error) {
  out.error = String(error?.stack ?? error);
}
console.log(JSON.stringify(out));
