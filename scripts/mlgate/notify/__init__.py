"""Notifications: ``mlgate notify`` posts the registry's events to the subscribers of
registry/notifications.yaml, as signed CloudEvents 1.0 documents or Slack messages, retried with backoff.

The manifest is protected like the policy (a change needs the admins' approval, MG501) and holds no secret:
it names the environment variables that hold each subscriber's HMAC secret (and a URL that is a credential).
"""

from __future__ import annotations

from mlgate.notify.deliver import BACKOFF_ENV, Outcome, RetryPolicy, post
from mlgate.notify.documents import SIGNATURE_HEADER, cloudevent, event_ids, signature, slack_message, verify
from mlgate.notify.results import Delivery, NotificationsInvalid, NotifyResult, SubscriberResult
from mlgate.notify.send import notify

__all__ = [
    "BACKOFF_ENV",
    "SIGNATURE_HEADER",
    "Delivery",
    "NotificationsInvalid",
    "NotifyResult",
    "Outcome",
    "RetryPolicy",
    "SubscriberResult",
    "cloudevent",
    "event_ids",
    "notify",
    "post",
    "signature",
    "slack_message",
    "verify",
]
