"""The browser test runs only with QNB_BROWSER=1 (``make test-browser``): ``make test`` neither
collects nor imports it (it needs Chromium, chromedriver and Selenium, the ``browser`` extra)."""
import os

if os.environ.get("QNB_BROWSER") != "1":
    collect_ignore_glob = ["test_*.py"]
