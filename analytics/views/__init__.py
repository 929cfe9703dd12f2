"""The managers' dashboards: validate the filters, call the selectors, lay the numbers out as
tiles, charts and tables (HTML, or CSV of any table shown with `?format=csv&table=NAME`).

Every page needs a login (anonymous users are sent to the dashboards' login page) and the
permission `analytics.view_dashboards` (the Managers role; IT admins have it too): 403 without.

- `auth`: the permission decorator `dashboard`, and the login and logout pages;
- `tables`: columns, tables and number formats shared by the HTML and the CSV;
- `common`: filters, query strings, the HTML-or-CSV response, chart data;
- `pages`: the overview and the providers side by side;
- `details`: the breakdowns, the recent messages and failures, the campaigns.
"""

from analytics.views.auth import LOGIN_URL, PERMISSION, dashboard, login, logout
from analytics.views.details import breakdown, campaigns, failures, messages
from analytics.views.pages import overview, providers

__all__ = [
    "LOGIN_URL",
    "PERMISSION",
    "breakdown",
    "campaigns",
    "dashboard",
    "failures",
    "login",
    "logout",
    "messages",
    "overview",
    "providers",
]
