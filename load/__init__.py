"""Load generation with Locust: arrives with issue 4 (load shapes, distributed mode)."""
