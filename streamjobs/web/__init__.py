"""The job view (``streamjobs web``): runs, attempts, dead letters, endpoints, schedules.

Server-rendered HTML from aiohttp.web and Jinja2, readable without
JavaScript. Figures come from PostgreSQL and from the report of
``streamjobs status``; actions run the same code as the CLI commands.
"""
