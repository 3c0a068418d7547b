//! The textbook's transposed-convolution chapter, every step in order.
//!
//! Run: `cargo run --release -p tconv --example textbook`

#[path = "bilinear.rs"]
mod bilinear;
#[path = "channels.rs"]
mod channels;
#[path = "conv_matrix.rs"]
mod conv_matrix;
#[path = "padding_stride.rs"]
mod padding_stride;
#[path = "scatter.rs"]
mod scatter;

fn main() {
    scatter::main();
    println!();
    padding_stride::main();
    println!();
    channels::main();
    println!();
    conv_matrix::main();
    println!();
    bilinear::main();
}
