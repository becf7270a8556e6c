"""Reports for CI, pure like the rest of the compiler: results written as GitHub
workflow-command annotations and as SARIF 2.1.0 (`validate --format`), and the
review's findings as data — read from each reviewer's JSON, merged across reviewers,
reconciled, rendered — offered to workflows as filters (`filters.py`).

Input: diagnostics, or the JSON answers of review steps. Output: text and JSON-ready
values. Nothing here runs anything or touches the network.
"""
