-- One row per (pull request, issue key named in its title, branch or body).
select distinct pr_key, upper(issue_key) as issue_key from {{ source('github', 'pull_request_issue_links') }}
