// A failing step's output reaches Pulumi's log, and a validator may echo a
// rejected line of the file it checked: every secret the step received is
// masked, as given and in the encodings the files use, longest first.

export function redactSecrets(output: string, secrets: readonly string[] | undefined): string {
  const forms = new Set<string>();
  for (const secret of secrets ?? []) {
    if (!secret) continue;
    for (const form of [
      secret,
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
      secret.replace(/"/g, '""'),
      secret.replace(/([\\:])/g, "\\$1"),
    ])
      forms.add(form);
  }
  let text = output;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) text = text.split(form).join("[secret]");
  return text;
}
