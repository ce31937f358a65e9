/**
 * The official KSeF files the project reads from the spec folder (invoice, UPO and AuthTokenRequest XSDs with
 * everything they import, the API contract open-api.json, the sample invoices of the official C# client), each
 * pinned to a commit of a public GitHub repository and to its SHA-256. A machine without the spec folder fetches
 * exactly these (`fetchSpec.ts`). A file the code starts to read belongs here too, or it is missing there.
 */

export interface PinnedSpecFile {
  /** Where the spec folder keeps it: the official repository's name, then the path inside it. */
  path: string;
  /** GitHub `owner/name` it is fetched from. */
  repo: string;
  /** The path inside `repo`, when the file is kept there under another path than `path` says (a verbatim copy). */
  repoPath?: string;
  commit: string;
  /** SHA-256 of the file's bytes, lowercase hex. */
  sha256: string;
}

interface Source {
  repo: string;
  commit: string;
}

/** CIRFMF/ksef-docs "update version to 2.6" (2026-05-19): the XSDs. */
const KSEF_DOCS: Source = { repo: 'CIRFMF/ksef-docs', commit: 'd92d285b928896258afdb27f7150f9127ee18ada' };
/** CIRFMF/ksef-client-csharp 2.6.1 (2026-06-15): the sample invoices of its tests. */
const KSEF_CLIENT_CSHARP: Source = { repo: 'CIRFMF/ksef-client-csharp', commit: 'ce494410c16a672e39da8345b2c098866bcd7e8b' };

function pinned(source: Source, sums: Record<string, string>): PinnedSpecFile[] {
  const folder = source.repo.split('/')[1];
  return Object.entries(sums).map(([file, sha256]) => ({ path: `${folder}/${file}`, ...source, sha256 }));
}

/**
 * The current API contract, open-api.json of API 2.8.1 from CIRFMF/ksef-api. That repository's history holds no
 * pinnable commit of this version, so the file is fetched from smekcio/ksef-client-typescript at a2b77a94, which
 * keeps a verbatim copy of CIRFMF/ksef-api's main/open-api.json (downloaded 2026-10-08) as
 * specs/ksef-openapi.snapshot.json; the SHA-256 is that of the official file.
 */
const KSEF_API_OPEN_API: PinnedSpecFile = {
  path: 'ksef-api/open-api.json',
  repo: 'smekcio/ksef-client-typescript',
  repoPath: 'specs/ksef-openapi.snapshot.json',
  commit: 'a2b77a941e89e080368f64d43bfeb4b8345dd96a',
  sha256: '2ece1f24c1493c29231b9da5aac4441de56e107fef733f5801c863ecb037dd18',
};

export const PINNED_SPEC_FILES: readonly PinnedSpecFile[] = [
  KSEF_API_OPEN_API,
  ...pinned(KSEF_DOCS, {
    'auth/schemy/schemat_auth_v2-1.xsd': 'd48477808e342892f62ef8bc7f0b134812f0536b3bb9cc8433d4fff2a926c44c',
    'faktury/schemy/FA/bazowe/ElementarneTypyDanych_v10-0E.xsd': '8daf4d3771de200b26b697294cc906a2add3de9acfbbd97f4b1bd4fc0e5ecb2f',
    'faktury/schemy/FA/bazowe/KodyKrajow_v10-0E.xsd': '48be2a9f181d7ff80f185c62491ba12604c5cacbbe21af8e2aaaf2c585bbd214',
    'faktury/schemy/FA/bazowe/StrukturyDanych_v10-0E.xsd': 'cb08348374598e1e716e086c40d740390fb9e1bfa3aba1f4ec4cba0e1ef6d60f',
    'faktury/schemy/FA/schemat_FA(2)_v1-0E.xsd': 'b8acb60f0692ac2b05ac40ffcb1929b4d68c12b3c486cac4322e1699796f6999',
    'faktury/schemy/FA/schemat_FA(3)_v1-0E.xsd': 'b646b6b525f51adf1bb2545f111fc8ca6e7aa6dd2f98948f1667d3695c06d958',
    'faktury/schemy/PEF/Schemat_PEF(3)_v2-1.xsd': '10d9bc493b08501b8d95dfd45fa5a1d476bbdd1cf1456689c657a63ba3616579',
    'faktury/schemy/PEF/Schemat_PEF_KOR(3)_v2-1.xsd': 'a33615bbad44f8e3eeedc47cc19d2041bc8922e827f30ad9f5ef733717aaf596',
    'faktury/schemy/PEF/bazowe/20241206_PEFPL-CommonAggregateComponents-2.1-v1.4.34.xsd':
      '0aef109d27cebf3e32ca36f9cffb7331977db4dcc473e237148cd12f445c8fe8',
    'faktury/schemy/PEF/bazowe/20241206_PEFPL-CommonBasicComponents-2.1-v1.4.34.xsd':
      '8cbc4c9875e0e2546884a32ad71f7e9f7e384f99d7d174a536f4f3a66b4e0ad2',
    'faktury/schemy/PEF/bazowe/CCTS_CCT_SchemaModule-2.1.xsd': 'dd546e4809df86b6445589f69f0d6c9df162840ae386574ddfc1da7638103e15',
    'faktury/schemy/PEF/bazowe/UBL-CommonAggregateComponents-2.1.xsd': '939172ad8dd057cd403e7f763f6532184dd5ed4b9de24c42ebb35db4792ba613',
    'faktury/schemy/PEF/bazowe/UBL-CommonBasicComponents-2.1.xsd': 'bd4ad043ee1d9da1c7f8018dabf739cfafdfb59143d0d16b9ef769e6b7c408a7',
    'faktury/schemy/PEF/bazowe/UBL-CommonExtensionComponents-2.1.xsd': 'ad7a4e490978adfbcfc5ec0bb20941cf11ac960ccf0c4de8791a7c731a8dbe87',
    'faktury/schemy/PEF/bazowe/UBL-CommonSignatureComponents-2.1.xsd': '3db472305f029bba5c1ae157bfd0178f715c3f9b94bd8e6c557dbce5e88da874',
    'faktury/schemy/PEF/bazowe/UBL-ExtensionContentDataType-2.1.xsd': 'fcee77a11870208e6377ea6311b9f2a050bca24bdad8606ea02d71e9f9e72f8d',
    'faktury/schemy/PEF/bazowe/UBL-QualifiedDataTypes-2.1.xsd': '7dcb156e610239c97ae70940cf4653b88e48c3595bf5f56a2204a32e2893e6cf',
    'faktury/schemy/PEF/bazowe/UBL-SignatureAggregateComponents-2.1.xsd':
      '17bb6b62d709b4fd81449a37655af36aa6a1276ad4fdb1b2e249a5ed4b7c2172',
    'faktury/schemy/PEF/bazowe/UBL-SignatureBasicComponents-2.1.xsd': 'cef924d7ba3d1d8ade14469325cde1364f8c174e46f0198ec02da8e9e748a489',
    'faktury/schemy/PEF/bazowe/UBL-UnqualifiedDataTypes-2.1.xsd': '09052d406b4293e2a5f9c2bfee6df10ad4d8d5f0b36e24a6349d7f7936d89eb6',
    'faktury/schemy/PEF/bazowe/UBL-XAdESv132-2.1.xsd': 'a4f726bcf8cc3f7d9ffa4dab99e005535a8e8b60dced1e5d94578d2e05afa96e',
    'faktury/schemy/PEF/bazowe/UBL-XAdESv141-2.1.xsd': '1fa4625e9cefcb7a9abb5ac1b64315547450031eece8a55bd584e4ba4b79dbc1',
    'faktury/schemy/PEF/bazowe/UBL-xmldsig-core-schema-2.1.xsd': '93a98c8bab035b6841df1106bd70f963531d91cb4bad483d53eb4e4d24104ca3',
    'faktury/schemy/RR/schemat_FA_RR(1)_v1-1E.xsd': '3edf1c313bbb38d933ca73c0d054f72aa3b7ecba3bf2b9b57847269b4f290c45',
    'faktury/upo/schemy/upo-v4-3.xsd': '1e5ff386a29324021a9e0126319680aec0b1e0d4f4a18add30b2f5d12ce6fa86',
  }),
  ...pinned(KSEF_CLIENT_CSHARP, {
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-2.xml': '5f56ddfc899d47ec92522a041f1ae863de2a353ad813c2ae504598ad1f88ed2a',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-pef-correction.xml':
      '191fd6cc615fcc4a5732e48216d6df86246cebc441eb215ba97528bc97dd0515',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-pef-with-attachment.xml':
      '83a528947c77da63e42f79c8d0d6c38a3b7841b849961d838d886d115f06ef1c',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-pef.xml': 'cf6f127cfa84731f18b000405ea70ce167a7e82a2019582a7be1d47c6ee103d2',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-with-attachment.xml':
      '7d01e9ad011b33941a2b219c3e04d63e77f6a9eccdf0a5c0d7b62b31dee763c4',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-with-custom-Subject2.xml':
      '900fd2bae6035e04e2ec6cace5a863888385f750c02231a3c9a19f370e9e7d06',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-with-custom-Subject3.xml':
      '91fa7cea12035b93745559bbb18e803cdf2718758dba9ceca93f5a22f2109fad',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3-with-multiple-Subject3.xml':
      'abe5ded94ccf79722a5fc9d4816d3c919e7425a4639ba41c9083dedea3f2f0c4',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-3.xml': '9057355fdf2143415a3f4a6639a0664c203eb5fa7505da8439800802316b876b',
    'KSeF.Client.Tests.Core/Templates/invoice-template-fa-rr-1.xml': 'acbebeb17a01f8696f01fbc7a261a5fa05a41891dfdc5aecdef237ecd9d0af16',
  }),
];
