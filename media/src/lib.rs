//! voxgate-media: the media plane of voxgate.
//!
//! What it will be: SDP offer/answer (RFC 3264/4566), RTP/RTCP anchoring and
//! relay with symmetric latching, SRTP, DTMF, tones and mixing. It arrives with
//! the call-path issue; today the crate only reserves its place in the layout.
