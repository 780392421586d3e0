"""The embedded local endpoint (``serve-local``) and the demo that runs on it: DynamoDB's API
on loopback, for development with no AWS account."""
