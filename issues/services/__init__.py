"""Writes for reports, one module per job (the layout of issues/open311/):

- `tracking`: tracking codes;
- `intake`: `report_create`, a report routed and written with its `created` event;
- `submission`: `report_submit`, every entrance's submission, with idempotency and photos;
- `citizen`: "me too", more information, "fixed / not fixed" through the private link;
- `corrections`: staff's corrections of contact details in the admin;
- `reroute`: re-routing open reports after a boundary change;
- `ratelimit`: write-limit counters.

The workflow (a report's states after intake) is `issues.workflow`. Every change of a report is
recorded by one of the writers in `issues.events`, in the same transaction.
"""
