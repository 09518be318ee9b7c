"""The WMS fake's tables (docs/DATABASES.md, docs/protocols/wms.md "Tables")."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS warehouses (
    warehouse_code TEXT PRIMARY KEY, name TEXT, province TEXT, city TEXT, area TEXT,
    address TEXT, carrier_code TEXT, pickers INTEGER, packers INTEGER
);
CREATE TABLE IF NOT EXISTS owners (owner_code TEXT PRIMARY KEY, name TEXT);
CREATE TABLE IF NOT EXISTS items (
    item_code TEXT PRIMARY KEY, name TEXT, category TEXT, weight_kg REAL,
    owner_code TEXT, bar_code TEXT, updated_sim TEXT  -- owner NULL: the world's shared catalog
);
-- Each state an item took (seeded, added, updated), for the judge's master-data timing.
CREATE TABLE IF NOT EXISTS item_changes (
    seq INTEGER PRIMARY KEY, item_code TEXT NOT NULL, action TEXT NOT NULL, name TEXT,
    bar_code TEXT, changed_sim TEXT NOT NULL, changed_wall REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS item_changes_item ON item_changes(item_code, seq);
CREATE TABLE IF NOT EXISTS stock (
    warehouse_code TEXT NOT NULL, item_code TEXT NOT NULL, initial_qty INTEGER NOT NULL,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,
    PRIMARY KEY (warehouse_code, item_code)
);
-- What each inventory.query answered, per warehouse and item: the three-ledger check's
-- read behind the connector's next stock push to the OMS (docs/JUDGE.md).
CREATE TABLE IF NOT EXISTS inventory_reads (
    seq INTEGER PRIMARY KEY, warehouse_code TEXT NOT NULL, item_code TEXT NOT NULL,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, sim_time TEXT NOT NULL,
    wall_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stock_ledger (
    seq INTEGER PRIMARY KEY, warehouse_code TEXT, item_code TEXT, field TEXT,
    change INTEGER, balance_after INTEGER, reason TEXT, reference TEXT,
    sim_time TEXT, wall_time REAL
);
CREATE TABLE IF NOT EXISTS delivery_orders (
    delivery_order_id TEXT PRIMARY KEY, delivery_order_code TEXT NOT NULL,
    source_order_code TEXT, owner_code TEXT NOT NULL, customer_id TEXT,
    warehouse_code TEXT NOT NULL, order_type TEXT, status TEXT NOT NULL,
    logistics_code TEXT, express_code TEXT, source_platform_code TEXT, shop_nick TEXT,
    weight_kg REAL, created_sim TEXT, created_wall REAL, delivered_sim TEXT,
    delivered_wall REAL, canceled_sim TEXT, canceled_wall REAL,
    receiver_province TEXT NOT NULL DEFAULT '',  -- receiverInfo.province (carrier fees)
    UNIQUE (owner_code, delivery_order_code)
);
CREATE INDEX IF NOT EXISTS delivery_orders_code ON delivery_orders(delivery_order_code);
CREATE INDEX IF NOT EXISTS delivery_orders_express ON delivery_orders(express_code);
CREATE TABLE IF NOT EXISTS delivery_order_lines (
    delivery_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, plan_qty INTEGER,
    actual_qty INTEGER, owner_code TEXT, source_order_code TEXT, inventory_type TEXT,
    actual_price TEXT
);
CREATE INDEX IF NOT EXISTS delivery_order_lines_id ON delivery_order_lines(delivery_order_id);
CREATE TABLE IF NOT EXISTS inbound_orders (
    inbound_order_id TEXT PRIMARY KEY, kind TEXT NOT NULL, order_code TEXT NOT NULL,
    owner_code TEXT NOT NULL, warehouse_code TEXT NOT NULL, order_type TEXT, status TEXT NOT NULL,
    supplier_code TEXT, purchase_order_code TEXT, pre_delivery_order_code TEXT,
    logistics_code TEXT, express_code TEXT, return_reason TEXT, created_sim TEXT,
    created_wall REAL, confirmed_sim TEXT, confirmed_wall REAL,
    UNIQUE (kind, owner_code, order_code)
);
CREATE TABLE IF NOT EXISTS inbound_order_lines (
    inbound_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, plan_qty INTEGER,
    actual_qty INTEGER, owner_code TEXT, inventory_type TEXT
);
CREATE INDEX IF NOT EXISTS inbound_order_lines_id ON inbound_order_lines(inbound_order_id);
-- Returns: the buyers' parcels as they reach a warehouse (the simulator puts them there), what
-- each holds and how much of it is defective; the quality check of each return order line by
-- inventoryType; the stock that is not saleable (CC defective, ...), apart from `stock`,
-- whose on_hand is saleable (ZP) stock only.
CREATE TABLE IF NOT EXISTS return_parcels (
    owner_code TEXT NOT NULL, logistics_no TEXT NOT NULL, warehouse_code TEXT NOT NULL,
    pre_delivery_order_code TEXT, arrived_sim TEXT, arrived_wall REAL,
    PRIMARY KEY (owner_code, logistics_no)
);
CREATE TABLE IF NOT EXISTS return_parcel_lines (
    owner_code TEXT NOT NULL, logistics_no TEXT NOT NULL, item_code TEXT NOT NULL,
    qty INTEGER NOT NULL, defective INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbound_quality (
    inbound_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT NOT NULL,
    inventory_type TEXT NOT NULL, qty INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbound_quality_id ON inbound_quality(inbound_order_id);
CREATE TABLE IF NOT EXISTS unsaleable_stock (
    warehouse_code TEXT NOT NULL, item_code TEXT NOT NULL, inventory_type TEXT NOT NULL,
    qty INTEGER NOT NULL, PRIMARY KEY (warehouse_code, item_code, inventory_type)
);
CREATE TABLE IF NOT EXISTS transfer_orders (
    transfer_order_id TEXT PRIMARY KEY, transfer_order_code TEXT NOT NULL,
    owner_code TEXT NOT NULL, from_warehouse_code TEXT NOT NULL, to_warehouse_code TEXT NOT NULL,
    status TEXT NOT NULL, created_sim TEXT, created_wall REAL,
    UNIQUE (owner_code, transfer_order_code)
);
CREATE TABLE IF NOT EXISTS transfer_order_lines (
    transfer_order_id TEXT NOT NULL, order_line_no TEXT, item_code TEXT, qty INTEGER
);
"""
