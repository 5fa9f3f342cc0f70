"""Catalogue-driven commerce: quotes, margins, QRF plans, order lines and MACDs."""
