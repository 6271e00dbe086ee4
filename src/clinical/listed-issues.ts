/**
 * An assessment's issues as an answer lists them (`POST /assessments`, the CLI's JSON): at most
 * {@link ISSUES_LISTED_PER_CODE} of each kind, then one `issues-not-listed` note counting the
 * rest by kind. A Bundle of a million malformed entries would otherwise be answered with a million
 * issues (16 MB in, 131 MB out). Records of a CAR-T infusion that could not be read are listed
 * apart, with a cap of their own: fifty malformed Observations before them must not hide the one
 * record that says the patient was infused. The cards and the CSV's count read the whole list.
 */
import type { Role, Terminology } from './terminology.js';
import type { Assessment, AssessmentIssue } from './types.js';

/** Issues of one kind listed in an answer; the first ones, in the assessment's order. */
export const ISSUES_LISTED_PER_CODE = 50;

const INFUSION_ROLES: readonly Role[] = ['car-t-product', 'car-t-infusion-procedure'];

/**
 * Whether an issue is a record left out whose codes say it is a CAR-T infusion (or its product):
 * unreadable (`resource-invalid`, known by the codings found in it), or read but without a date to
 * the day (`date-missing` of a CAR-T event: dated to the month only, or to a day that does not exist).
 */
export function isUnreadInfusion(issue: AssessmentIssue, terminology: Terminology): boolean {
  if (issue.code === 'date-missing') return issue.event === 'car-t';
  return (
    issue.code === 'resource-invalid' &&
    (issue.codings?.some((c) =>
      terminology.lookup(c.system, c.code).some((info) => INFUSION_ROLES.includes(info.role)),
    ) ??
      false)
  );
}

/**
 * `issues`, at most `perCode` of each code (the first, in order), and a count of the others. Those
 * `apart` says are kept in a group of their own per code, with the same cap.
 */
export function listedIssues(
  issues: readonly AssessmentIssue[],
  perCode = ISSUES_LISTED_PER_CODE,
  apart: (issue: AssessmentIssue) => boolean = () => false,
): AssessmentIssue[] {
  const seen = new Map<string, number>();
  const listed: AssessmentIssue[] = [];
  for (const issue of issues) {
    const group = apart(issue) ? `${issue.code} (CAR-T infusion records)` : issue.code;
    const n = (seen.get(group) ?? 0) + 1;
    seen.set(group, n);
    if (n <= perCode) listed.push(issue);
  }
  const over = [...seen].filter(([, n]) => n > perCode).map(([group, n]) => ({ group, more: n - perCode }));
  if (over.length === 0) return listed;
  const total = over.reduce((sum, { more }) => sum + more, 0);
  const count = (n: number): string => n.toLocaleString('en');
  listed.push({
    severity: 'warning',
    code: 'issues-not-listed',
    message: `${count(total)} more not listed (${over.map(({ group, more }) => `${group}: ${count(more)}`).join(', ')}); the first ${perCode} of each kind are listed`,
  });
  return listed;
}

/** The assessment with its issues as an answer lists them ({@link listedIssues}). */
export function withListedIssues(assessment: Assessment, terminology: Terminology): Assessment {
  const issues = listedIssues(assessment.issues, ISSUES_LISTED_PER_CODE, (i) => isUnreadInfusion(i, terminology));
  return issues.length === assessment.issues.length ? assessment : { ...assessment, issues };
}
