"""Sign-up with double opt-in, the preference centre and the reader's own data (docs/signup.md).

The forms a reader posts (forms.py) are checked against the abuse limits (limits.py), recorded in the
store as unconfirmed, and answered with a confirmation mail (mails.py) that a background thread
delivers (mailer.py); service.py ties these together for `newsletter serve` and the Python API.
"""
