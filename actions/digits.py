"""Digits as residents type them: the contract's reading (`heatdesk_contract.digits`), which the
console also uses to find a phone tail the resident wrote to an agent."""

from heatdesk_contract.digits import CHINESE_DIGITS, MAX_ACCOUNT_DIGITS, PHONE_TAIL_DIGITS, normalize_digits

__all__ = ["CHINESE_DIGITS", "MAX_ACCOUNT_DIGITS", "PHONE_TAIL_DIGITS", "normalize_digits"]
