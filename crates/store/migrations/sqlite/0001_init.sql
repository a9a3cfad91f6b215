-- bidsieve schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql:
-- same tables, same columns, same constraints; only the types differ.

-- Change feed: one row, bumped by every committed write transaction.
CREATE TABLE config_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO config_state (id, version) VALUES (1, 0);

-- Generated secrets (JWT secret, win key) kept so every process agrees on them.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    slug          TEXT    NOT NULL,
    qps           INTEGER NOT NULL CHECK (qps >= 0),
    redirect_wins INTEGER NOT NULL CHECK (redirect_wins IN (0, 1)),
    inject_tag    INTEGER NOT NULL CHECK (inject_tag IN (0, 1)),
    keep_nurl     INTEGER NOT NULL CHECK (keep_nurl IN (0, 1))
) STRICT;
CREATE UNIQUE INDEX customers_slug ON customers (slug);

CREATE TABLE suppliers (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL
) STRICT;

CREATE TABLE streams (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id         TEXT    NOT NULL,
    supplier_id       INTEGER NOT NULL REFERENCES suppliers (id) ON DELETE RESTRICT,
    customer_id       INTEGER NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    seat_id           TEXT    NOT NULL,
    customer_endpoint TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX streams_client_id ON streams (client_id);
CREATE INDEX streams_customer ON streams (customer_id);
CREATE INDEX streams_supplier ON streams (supplier_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'customer')),
    customer_id   INTEGER REFERENCES customers (id) ON DELETE CASCADE,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_customer ON users (customer_id);

CREATE TABLE filters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    parent_id    INTEGER REFERENCES filters (id) ON DELETE CASCADE,
    filter_type  TEXT    NOT NULL,
    field_type   TEXT    NOT NULL,
    operator     TEXT,
    threshold    REAL,
    list_len     INTEGER NOT NULL DEFAULT 0,
    list_version INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX filters_customer ON filters (customer_id);
CREATE INDEX filters_parent ON filters (parent_id);
-- Exactly one root per customer.
CREATE UNIQUE INDEX filters_one_root ON filters (customer_id) WHERE parent_id IS NULL;

-- A list is stored as up to 256 hash buckets: bucket = xxh3_64(value) % 256, items = the
-- bucket's distinct values sorted bytewise, each followed by '\n'.
CREATE TABLE filter_list_chunks (
    filter_id INTEGER NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    bucket    INTEGER NOT NULL CHECK (bucket >= 0 AND bucket < 256),
    items     TEXT    NOT NULL,
    PRIMARY KEY (filter_id, bucket)
) STRICT;
