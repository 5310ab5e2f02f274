"""Rasa input channels of HeatDesk: WeChat Official Account, website widget, REST."""
