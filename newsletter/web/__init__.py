"""What readers touch after delivery: the static site (web versions, archive, feed) and the
reader-facing endpoints of `newsletter serve` (one-click unsubscribe, webhooks)."""
