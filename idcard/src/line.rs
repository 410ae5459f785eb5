//! A line of text the recognizer read, with where it sits on the card.

use serde::Serialize;

use crate::check::ReadChar;

/// One detected text box, recognized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextLine {
    /// The characters, left to right, each with its confidence.
    pub chars: Vec<ReadChar>,
    /// The box in the card's upright frame (the image rotated so text lines
    /// run horizontally), in pixels.
    pub left: f32,
    /// Top edge.
    pub top: f32,
    /// Right edge.
    pub right: f32,
    /// Bottom edge.
    pub bottom: f32,
}

impl TextLine {
    /// The characters as a string.
    pub fn text(&self) -> String {
        self.chars.iter().map(|c| c.ch).collect()
    }

    /// Vertical centre.
    pub fn middle(&self) -> f32 {
        (self.top + self.bottom) / 2.0
    }

    /// Height of the box.
    pub fn height(&self) -> f32 {
        self.bottom - self.top
    }
}
