"""The staff console's pages: sign-in (auth), the inbox with its exports and bulk actions (inbox), a
report's page with its action form (report), the supervisors' triage and verification queues
(queues)."""
