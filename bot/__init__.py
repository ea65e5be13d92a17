"""NH family guide: a Telegram bot that answers families' questions about
neonatal hemochromatosis (GALD) with vetted, sourced answers."""

__version__ = "0.1.0"
