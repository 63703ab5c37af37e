"""HTTP servers the tests start on 127.0.0.1 in place of SaaS APIs (the only stand-in the suites allow)."""
