"""The audit trail: every alias move with its pull request and who signed it off (history), who held an
alias when (whois)."""
