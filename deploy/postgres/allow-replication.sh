#!/bin/sh
# Run once by the official postgres image when it creates the database
# (/docker-entrypoint-initdb.d): standbys may stream from this server, with
# the same password as every other connection. For a data volume made
# before, run the two lines by hand and reload (`SELECT pg_reload_conf()`).
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
