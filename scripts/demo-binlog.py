#!/usr/bin/env python3
"""Write a small demo binlog with a throwaway MariaDB server and copy it to OUT_DIR.

A shop: customers and orders, with inserts, an update and a delete in transactions, under
binlog_row_metadata=FULL so the changes carry column names.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from mariadb_sandbox import MariaDBSandbox  # noqa: E402

SQL = """
SET GLOBAL binlog_row_metadata = FULL;
CREATE DATABASE shop;
USE shop;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4,
  email VARCHAR(128), since DATE, vip BOOLEAN) ENGINE=InnoDB;
CREATE TABLE orders (id BIGINT UNSIGNED PRIMARY KEY, customer INT, total DECIMAL(12,2),
  status ENUM('new','paid','shipped'), created DATETIME(6), updated TIMESTAMP(3) NULL,
  note TEXT) ENGINE=InnoDB;
SET time_zone = '+00:00';
BEGIN;
INSERT INTO customers VALUES (1, 'Zoë Ångström', 'zoe@example.com', '2021-03-04', 1),
  (2, 'Bruno Díaz 🚲', 'bruno@example.com', '2023-11-30', 0);
INSERT INTO orders VALUES (1001, 1, 149.90, 'new', '2026-11-22 09:15:00.123456', NULL, 'gift wrap'),
  (1002, 2, 12.50, 'new', '2026-11-22 09:16:30.000001', NULL, NULL);
COMMIT;
BEGIN;
UPDATE orders SET status = 'paid', updated = '2026-11-22 09:20:00.250' WHERE id = 1001;
DELETE FROM orders WHERE id = 1002;
COMMIT;
"""


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    with MariaDBSandbox() as db:
        db.sql(SQL)
        db.flush_binlogs()
        paths = []
        for f in db.binlog_files()[:-1]:  # the last one is the fresh, empty one
            dst = os.path.join(out, os.path.basename(f))
            shutil.copyfile(f, dst)
            paths.append(dst)
    print("\n".join(paths))


if __name__ == "__main__":
    main()
