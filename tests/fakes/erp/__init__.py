"""Tests of the ERP fake (Kingdee K3 Cloud WebAPI)."""
