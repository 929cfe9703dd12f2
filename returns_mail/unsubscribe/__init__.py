"""The public pages a promotional email links to: one-click unsubscribe (RFC 8058) and the
preference page. No login: the signed token in the URL is the authority."""
