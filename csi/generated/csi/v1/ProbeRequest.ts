// Original file: csi/csi.proto


export interface ProbeRequest {
}

export interface ProbeRequest__Output {
}
