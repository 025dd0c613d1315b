"""The size limits both services hold requests to, each with why it is what it is.

They are part of the contract (docs/contract.md, "Input limits", lists them): a request past one is
INVALID_ARGUMENT naming the field. Limits an operator tunes (lines per hold, units per line,
page sizes, TTLs) are settings instead.
"""

from __future__ import annotations

# Names and titles are shown in lists and on receipts: 200 characters is more than any real
# one needs, and small enough that a page of them stays a small message.
MAX_NAME = 200
# A product description is prose, not a document: 5000 characters is a few paragraphs.
MAX_DESCRIPTION = 5000
# An owner_id is the caller's own key for a cart or session (a UUID, a prefixed id): 128
# characters holds any of them with room to spare.
MAX_OWNER_ID = 128
# A stock adjustment's note is a line for whoever reads the ledger, not a report.
MAX_NOTE = 500

# SKUs one BatchGetStockLevels or WatchStockLevels names: one `= ANY` query answers them all,
# and their answer stays far below the gRPC message limit.
MAX_BATCH_SKUS = 1000
# Location codes one StreamStockEvents filters on: far more than any shop's warehouses.
MAX_EVENT_LOCATIONS = 100
# Rows in one ImportCatalog chunk, and in one ExportCatalog answer: a chunk is written in a few
# set-based statements of at most this many rows each, and answered before the next is read.
MAX_CATALOG_ROWS = 1000
# Levels of a category path: deeper than any shop's taxonomy, and the import resolves a path
# level by level.
MAX_CATEGORY_DEPTH = 16
# Carts one BatchQuoteCarts prices: more than inventory_svc ever batches, and a bound on the
# work and the answer of one call.
MAX_BATCH_CARTS = 1000
# Rows one BatchUpdateStock changes: an ERP's sync page. One transaction locks every row's SKU
# (all its locations), so the cap bounds how long shoppers on those SKUs can wait.
MAX_STOCK_UPDATES = 1000

# Stock units in one adjustment or one variant's initial stock: no warehouse counts more of a
# SKU, and on_hand (BIGINT) summed from such deltas stays far from overflow.
MAX_STOCK_UNITS = 10**12
# A BULK rule's threshold: far above any real cart, yet a plain integer everywhere.
MAX_MIN_QUANTITY = 10**9
# The largest amount a request may carry (a price, an adjustment, an amount off), in minor
# units: 10 billion dollars. What is computed from such amounts must still fit int64,
# as BIGINT and as google.type.Money units: a unit price (base + adjustment, 2e12) times
# MAX_QUANTITY_PER_LINE (1e4) times MAX_LINES_PER_HOLD (1e2) is 2e18 < 9.2e18. Past
# it a quote of a dear SKU overflowed into an internal error.
MAX_AMOUNT_MINOR = 10**12
