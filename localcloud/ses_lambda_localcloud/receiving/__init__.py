"""Local SES receiving: recipient matching, the mail object, the rule-set worker, SMTP."""
