"""What the fixtures, the tests, the benchmark and the reliability run share:

    api        the authenticated JSON test client and readers of responses
    databases  PostgreSQL databases made and dropped, DB-API connections to any DATABASE_URL
    dbstate    the whole database read through the models, to show a request wrote nothing
    live       gunicorn on a free loopback port (LiveServer) and a cuttable TCP proxy
    processes  gunicorn's worker processes and their memory, from /proc
"""
