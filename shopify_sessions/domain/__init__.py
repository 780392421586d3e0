"""The domain: ``Session`` as Node's ``Session`` behaves, its scopes, and the checks on both.

Nothing here knows about storage; every other layer builds on it.
"""
