/**
 * The hematotoxicity engine's public API. Pure TypeScript: no express, no network, no file system,
 * so the SMART app bundles it for the browser.
 */
export { assess, AssessmentInputError, type AssessOptions } from './assess.js';
export { buildTerminology, ROLES, LOCAL_SYSTEM, type Role, type Terminology, type LocalCodes } from './terminology.js';
export {
  DEFAULT_HOSPITAL_THRESHOLDS,
  DEFAULT_THRESHOLDS,
  parseThresholds,
  SOURCES,
  type HospitalThresholds,
  type Thresholds,
  type SourceRef,
} from './thresholds.js';
export { displayUnit } from './units.js';
export { isUnreadInfusion, ISSUES_LISTED_PER_CODE, listedIssues, withListedIssues } from './listed-issues.js';
export type * from './types.js';
