# Vault or OpenBao Agent: render the LINE WORKS secrets of profile "default" as files for
#   lwtoken-helperd run --credentials-dir /run/secrets/lineworks
# The agent writes each file to a temporary name and renames it over the target, so the
# daemon sees the old file or the new one, never half of one; it notices the rename within
# about a tenth of a second and mints with the new secrets, without a restart.
#
# Run the agent as the daemon's user (as root only if the daemon runs as root too: the files
# are 0400, readable by their owner alone), with /run/secrets/lineworks a directory only that
# user (or root) can write: the daemon refuses files others could change.
# Store the secrets with, e.g.:
#   vault kv put secret/lineworks/default private_key=@private_20240101.key client_secret=@client-secret.txt
# e2e/recipes_test.go renders these templates the way the agent does and runs the daemon on them.

template {
  destination          = "/run/secrets/lineworks/default.private-key"
  perms                = "0400"
  error_on_missing_key = true
  contents             = <<-EOT
  {{- with secret "secret/data/lineworks/default" }}{{ .Data.data.private_key }}{{ end }}
  EOT
}

template {
  destination          = "/run/secrets/lineworks/default.client-secret"
  perms                = "0400"
  error_on_missing_key = true
  contents             = <<-EOT
  {{- with secret "secret/data/lineworks/default" }}{{ .Data.data.client_secret }}{{ end }}
  EOT
}
