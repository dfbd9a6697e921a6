"""The rasa-sdk action server: thin actions over the pure logic in ``nps/``.

- ``survey_form``: validating answers and asking the survey's questions
- ``survey``: starting, finishing and leaving a survey, the fallback
- ``comment``: the extra comment of someone surveyed recently
- ``session``: session start and restart
- ``resources``: settings and trainers' files, loaded once
- ``message``: reading the latest user message
- ``responses``: the names of the responses the actions say

Start it with ``python -m actions`` (checks the trainers' files first).
"""
