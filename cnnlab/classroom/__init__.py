"""People on a class server: who they are, what they may do, and what they asked for, in a real database.

schema: the tables (people, classes, sessions, requests, sign-in attempts); database: where they live (SQLite in
$CNNLAB_HOME, or PostgreSQL named by CNNLAB_DATABASE_URL) and the migrations that make them (Alembic); accounts:
teachers, classes with join codes, students with personal codes; sessions: the signed, expiring token a browser keeps;
permissions: the one table of who may do what, asked by pages, the command line and Ray alike; requests: who asked for
which run. The run store stays on disk (cnnlab.runs): the database holds who asked for what, never the runs.
"""
