/**
 * An assessment's issues as an answer lists them (`POST /assessments`, the CLI's JSON): at most
 * {@link ISSUES_LISTED_PER_CODE} of each kind, then one `issues-not-listed` note counting the
 * rest by kind. A Bundle of a million malformed entries would otherwise be answered with a million
 * issues (16 MB in, 131 MB out). The cards and the CSV's count read the assessment's whole list.
 */
import type { Assessment, AssessmentIssue, IssueCode } from './types.js';

/** Issues of one kind listed in an answer; the first ones, in the assessment's order. */
export const ISSUES_LISTED_PER_CODE = 50;

/** `issues`, at most `perCode` of each code (the first, in order), and a count of the others. */
export function listedIssues(issues: readonly AssessmentIssue[], perCode = ISSUES_LISTED_PER_CODE): AssessmentIssue[] {
  const seen = new Map<IssueCode, number>();
  const listed: AssessmentIssue[] = [];
  for (const issue of issues) {
    const n = (seen.get(issue.code) ?? 0) + 1;
    seen.set(issue.code, n);
    if (n <= perCode) listed.push(issue);
  }
  const over = [...seen].filter(([, n]) => n > perCode).map(([code, n]) => ({ code, more: n - perCode }));
  if (over.length === 0) return listed;
  const total = over.reduce((sum, { more }) => sum + more, 0);
  const count = (n: number): string => n.toLocaleString('en');
  listed.push({
    severity: 'warning',
    code: 'issues-not-listed',
    message: `${count(total)} more not listed (${over.map(({ code, more }) => `${code}: ${count(more)}`).join(', ')}); the first ${perCode} of each kind are listed`,
  });
  return listed;
}

/** The assessment with its issues as an answer lists them ({@link listedIssues}). */
export function withListedIssues(assessment: Assessment): Assessment {
  const issues = listedIssues(assessment.issues);
  return issues.length === assessment.issues.length ? assessment : { ...assessment, issues };
}
