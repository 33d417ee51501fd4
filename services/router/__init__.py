"""The router: assigns each classified call to a queue (street 直派, department 委办局, district, manual)."""
