"""Reports for CI: results (validate's diagnostics, the review's findings) written as
GitHub workflow-command annotations and as SARIF 2.1.0, and the review's findings as
data (parsed, merged across reviewers, rendered).

Input: results as plain values. Output: text and JSON documents. Nothing here runs
anything or touches the network.
"""
