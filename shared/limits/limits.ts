/** The limits chapter of the API (limity/limity.md, CIRFMF/ksef-docs; "Limity i ograniczenia" of open-api.json, CIRFMF/ksef-api). */
import type { RequestFunction } from '../http/transport';
import type { SubjectLimits } from './types';

/** `GET /limits/subject`: the KSeF certificate limits of the subject that authenticated. */
export async function getSubjectLimits(api: RequestFunction): Promise<SubjectLimits> {
  return (await api<SubjectLimits>({ method: 'GET', path: '/limits/subject' })).data;
}
