"""A scripted browser for the sign-in page: follows /authorize to the page, fills in the form (and
the 2FA step when asked), and returns the redirect to the client's callback. Plain HTTP, as a
browser without JavaScript does it; tests/test_signin_chromium.py drives the same page in Chromium."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2


@dataclass
class SignInOutcome:
    status: int
    page: str
    location: str | None

    @property
    def code(self) -> str | None:
        if not self.location:
            return None
        return parse_qs(urlsplit(self.location).query).get("code", [None])[0]

    @property
    def state(self) -> str | None:
        if not self.location:
            return None
        return parse_qs(urlsplit(self.location).query).get("state", [None])[0]


def hidden_inputs(page: str) -> dict[str, str]:
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def sign_in(
    authorize_url: str, email: str, password: str, *, code: str | None = None, tamper_csrf: bool = False
) -> SignInOutcome:
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        response = browser.get(authorize_url)
        if response.status_code not in (302, 303, 307):
            return SignInOutcome(response.status_code, response.text, response.headers.get("location"))
        page_url = urljoin(authorize_url, response.headers["location"])
        if "/signin" not in page_url:  # an error redirect straight back to the client
            return SignInOutcome(response.status_code, "", page_url)
        page = browser.get(page_url)
        form = hidden_inputs(page.text) | {"email": email, "password": password}
        if tamper_csrf:
            form["csrf"] = "forged"
        origin = f"{urlsplit(page_url).scheme}://{urlsplit(page_url).netloc}"
        post_url = urljoin(page_url, "signin")
        answer = browser.post(post_url, data=form, headers={"Origin": origin})
        if answer.status_code in (200, 401) and 'name="code"' in answer.text and code is not None:
            step = hidden_inputs(answer.text) | {"code": code}
            answer = browser.post(post_url, data=step, headers={"Origin": origin})
        return SignInOutcome(answer.status_code, answer.text, answer.headers.get("location"))
