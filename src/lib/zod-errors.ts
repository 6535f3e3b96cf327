import type { ZodError } from "zod";

/** `"text: must not be empty"`: the first issue, naming its field (CONTRACT §2). */
export function formatZodError(error: ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid input";
  const field = issue.path.length ? issue.path.map(String).join(".") : "body";
  return `${field}: ${issue.message}`;
}
