/** `GET /limits/subject` (EffectiveSubjectLimits, open-api.json, CIRFMF/ksef-api); KSeF may leave either part out (null). */
export interface SubjectLimits {
  /** How many KSeF certificate enrollments the authenticated subject may make. */
  enrollment?: { maxEnrollments?: number } | null;
  /** How many active KSeF certificates the authenticated subject may hold. */
  certificate?: { maxCertificates?: number } | null;
}
