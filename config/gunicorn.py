"""gunicorn settings: `gunicorn -c python:config.gunicorn config.wsgi`.

gunicorn logs through handlers of its own, outside Django's logging configuration: its access
log writes every request line (the Mailchimp webhook's URL carries that account's secret) and its
error log the URL of a failed request. Both get the same secret-scrubbing filter as the app's
logs, so the request line is kept with the secret segment redacted.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from config.logging_json import ScrubSecretsFilter

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
accesslog = "-"
# The path is logged as gunicorn's request line, after ScrubSecretsFilter redacts it.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class ScrubbingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(ScrubSecretsFilter())


logger_class = ScrubbingLogger
