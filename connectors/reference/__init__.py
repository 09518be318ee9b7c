"""The reference connector: a correct, durable, idempotent OMS -> carrier/WMS -> OMS/ERP flow."""
