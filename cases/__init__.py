"""The closed loop: cases opened from survey answers (docs/closed-loop.md).

rules (data/cases.yml), states (the state machine), store (the tables),
opener (rules to cases), metrics (the loop's numbers); sla and alerts are
the business-hours clock and the notifications."""
