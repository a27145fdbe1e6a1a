#!/bin/sh
# The streaming replica's entrypoint (official postgres image): on an empty data folder,
# copy the primary with pg_basebackup (-R writes primary_conninfo and standby.signal, so
# the server starts as a hot standby that streams WAL from the primary), then hand over to
# the image's own entrypoint, which finds the data folder initialised and starts postgres.
# A lost replica volume is rebuilt the same way: remove it and start the service again.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    until gosu postgres env PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
        --host="$PRIMARY_HOST" --username=replicator --pgdata="$PGDATA" \
        --wal-method=stream --write-recovery-conf --checkpoint=fast --progress; do
        echo "replica: the primary at $PRIMARY_HOST does not answer yet; again in 2 s" >&2
        rm -rf "${PGDATA:?}"/*
        sleep 2
    done
fi
exec docker-entrypoint.sh "$@"
