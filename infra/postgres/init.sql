-- One database per service (DESIGN.md: no service reads another's tables).
CREATE DATABASE berth_inventory;
CREATE DATABASE berth_executor;
