"""Purchasing (采购): suppliers, purchase orders, goods receipts, suggested purchases."""
